# Reference transcription of LFAV's official evaluation (Hou et al., "Toward Long Form
# Audio-Visual Video Understanding", ACM TOMM 2024), the oracle of tests/test_lfav_metric.py.
# Source: https://github.com/GeWu-Lab/LFAV at commit e17ad4d8d42355f568f2c0248476cc5ea07bbb1f
# (HEAD; both files unchanged since 945d44d "source code", 2024-04-21), MIT licence.
#
# * src/utils/eval_metrics.py lines 33-332, VERBATIM (event_level, segment_level, to_vec,
#   extract_event, event_wise_metric, segment_map, interpolated_prec_rec; Precision, Recall, F1 of
#   lines 4-31 are unused by the evaluation and left out). Layout [C, T], as the official.
# * src/tools/evaluation.py lines 35-225, `evaluation()`: its `real_av_labels`, num_stages == 1
#   branch and everything after it, transcribed below as `evaluation()`. Changed only where the
#   official needs a model, torch or pandas:
#     - the model's outputs come in as numpy arrays, one dict per video in loader order:
#       a_prob, v_prob [1, C] (video-level), frame_prob [1, T, 2, C], audio [1, T, ...] (only its
#       size()[1] is read); `.cpu().detach().numpy()` is dropped.
#     - pandas is replaced by plain row lists that keep the file order: df_a_w / df_v_w rows are
#       [filename, event_labels], df_a / df_v rows are [filename, onset, offset, event_labels];
#       `df_a.loc[df_a['filename'] == name]` is a list comprehension over the rows.
#     - the per-video .txt save path, the unused label_format / other-stage branches and the
#       prints are left out; the printed numbers (and the segment-level ones, computed but not
#       printed) are returned in a dict, unrounded.
#   Every arithmetic step and its order is kept.
import numpy as np

CATEGORIES = ['accordion', 'alarm', 'banjo', 'bicycle', 'car', 'car_alarm', 'cat',
            'cello', 'chainsaw','cheering', 'chicken_rooster', 'clapping', 'cry', 'dance',
            'dog', 'drum','fixed-wing_aircraft', 'frisbee', 'guitar', 'helicopter', 'horse',
            'laughter','piano', 'playing_basketball', 'playing_badminton', 'playing_baseball', 'playing_ping-pong','playing_tennis',
            'playing_soccer', 'playing_volleyball', 'rodents', 'shofar','singing', 'speech', 'violin']


# ---- src/utils/eval_metrics.py, lines 33-332, verbatim ----------------------------------------
def event_level(SO_a, SO_v, SO_av, GT_a, GT_v, GT_av, T, n_cls=35):
    
    N = n_cls
    event_p_a = [None for _ in range(n_cls)]
    event_gt_a = [None for _ in range(n_cls)]
    event_p_v = [None for _ in range(n_cls)]
    event_gt_v = [None for _ in range(n_cls)]
    event_p_av = [None for _ in range(n_cls)]
    event_gt_av = [None for _ in range(n_cls)]

    TP_a = np.zeros(n_cls)
    TP_v = np.zeros(n_cls)
    TP_av = np.zeros(n_cls)

    FP_a = np.zeros(n_cls)
    FP_v = np.zeros(n_cls)
    FP_av = np.zeros(n_cls)

    FN_a = np.zeros(n_cls)
    FN_v = np.zeros(n_cls)
    FN_av = np.zeros(n_cls)

    for n in range(N):
        seq_pred = SO_a[n, :]
        if np.sum(seq_pred) != 0:
            x = extract_event(seq_pred, n, T)
            event_p_a[n] = x
        seq_gt = GT_a[n, :]
        if np.sum(seq_gt) != 0:
            x = extract_event(seq_gt, n, T)
            event_gt_a[n] = x

        seq_pred = SO_v[n, :]
        if np.sum(seq_pred) != 0:
            x = extract_event(seq_pred, n, T)
            event_p_v[n] = x
        seq_gt = GT_v[n, :]
        if np.sum(seq_gt) != 0:
            x = extract_event(seq_gt, n, T)
            event_gt_v[n] = x

        seq_pred = SO_av[n, :]
        if np.sum(seq_pred) != 0:
            x = extract_event(seq_pred, n, T)
            event_p_av[n] = x

        seq_gt = GT_av[n, :]
        if np.sum(seq_gt) != 0:
            x = extract_event(seq_gt, n, T)
            event_gt_av[n] = x

        
        tp, fp, fn = event_wise_metric(event_p_a[n], event_gt_a[n])
        TP_a[n] += tp
        FP_a[n] += fp
        FN_a[n] += fn

        
        tp, fp, fn = event_wise_metric(event_p_v[n], event_gt_v[n])
        TP_v[n] += tp
        FP_v[n] += fp
        FN_v[n] += fn

        
        tp, fp, fn = event_wise_metric(event_p_av[n], event_gt_av[n])
        TP_av[n] += tp
        FP_av[n] += fp
        FN_av[n] += fn

    TP = TP_a + TP_v
    FN = FN_a + FN_v
    FP = FP_a + FP_v

    n = len(FP_a)
    F_a = []
    for ii in range(n):
        if (TP_a + FP_a)[ii] != 0 or (TP_a + FN_a)[ii] != 0:
            F_a.append(2 * TP_a[ii] / (2 * TP_a[ii] + (FN_a + FP_a)[ii]))

    F_v = []
    for ii in range(n):
        if (TP_v + FP_v)[ii] != 0 or (TP_v + FN_v)[ii] != 0:
            F_v.append(2 * TP_v[ii] / (2 * TP_v[ii] + (FN_v + FP_v)[ii]))

    F = []
    for ii in range(n):
        if (TP + FP)[ii] != 0 or (TP + FN)[ii] != 0:
            F.append(2 * TP[ii] / (2 * TP[ii] + (FN + FP)[ii]))

    F_av = []
    for ii in range(n):
        if (TP_av + FP_av)[ii] != 0 or (TP_av + FN_av)[ii] != 0:
            F_av.append(2 * TP_av[ii] / (2 * TP_av[ii] + (FN_av + FP_av)[ii]))

    if len(F_a) == 0:
        f_a = 1.0  
    else:
        f_a = (sum(F_a) / len(F_a))

    if len(F_v) == 0:
        f_v = 1.0  
    else:
        f_v = (sum(F_v) / len(F_v))

    if len(F) == 0:
        f = 1.0  
    else:
        f = (sum(F) / len(F))
    if len(F_av) == 0:
        f_av = 1.0  
    else:
        f_av = (sum(F_av) / len(F_av))

    return f_a, f_v, f, f_av

def segment_level(SO_a, SO_v, SO_av, GT_a, GT_v, GT_av):
    
    TP_a = np.sum(SO_a * GT_a, axis=1)
    FN_a = np.sum((1 - SO_a) * GT_a, axis=1)
    FP_a = np.sum(SO_a * (1 - GT_a), axis=1)

    n = len(FP_a)
    F_a = []
    for ii in range(n):
        if (TP_a + FP_a)[ii] != 0 or (TP_a + FN_a)[ii] != 0:
            F_a.append(2 * TP_a[ii] / (2 * TP_a[ii] + (FN_a + FP_a)[ii]))

    TP_v = np.sum(SO_v * GT_v, axis=1)
    FN_v = np.sum((1 - SO_v) * GT_v, axis=1)
    FP_v = np.sum(SO_v * (1 - GT_v), axis=1)
    F_v = []
    for ii in range(n):
        if (TP_v + FP_v)[ii] != 0 or (TP_v + FN_v)[ii] != 0:
            F_v.append(2 * TP_v[ii] / (2 * TP_v[ii] + (FN_v + FP_v)[ii]))

    TP = TP_a + TP_v
    FN = FN_a + FN_v
    FP = FP_a + FP_v

    n = len(FP)

    F = []
    for ii in range(n):
        if (TP + FP)[ii] != 0 or (TP + FN)[ii] != 0:
            F.append(2 * TP[ii] / (2 * TP[ii] + (FN + FP)[ii]))

    TP_av = np.sum(SO_av * GT_av, axis=1)
    FN_av = np.sum((1 - SO_av) * GT_av, axis=1)
    FP_av = np.sum(SO_av * (1 - GT_av), axis=1)
    n = len(FP_av)
    F_av = []
    for ii in range(n):
        if (TP_av + FP_av)[ii] != 0 or (TP_av + FN_av)[ii] != 0:
            F_av.append(2 * TP_av[ii] / (2 * TP_av[ii] + (FN_av + FP_av)[ii]))

    if len(F_a) == 0:
        f_a = 1.0  
    else:
        f_a = (sum(F_a) / len(F_a))

    if len(F_v) == 0:
        f_v = 1.0  
    else:
        f_v = (sum(F_v) / len(F_v))

    if len(F) == 0:
        f = 1.0  
    else:
        f = (sum(F) / len(F))
    if len(F_av) == 0:
        f_av = 1.0  
    else:
        f_av = (sum(F_av) / len(F_av))

    return f_a, f_v, f, f_av


def to_vec(start, end, t):
    x = np.zeros(t)
    for i in range(start, end):
        x[i] = 1
    return x


def extract_event(seq, n, T):
    x = []
    i = 0
    while i < T:
        if seq[i] == 1:
            start = i
            if i + 1 == T:
                i = i + 1
                end = i
                x.append(to_vec(start, end, T))
                break

            for j in range(i + 1, T):
                if seq[j] != 1:
                    i = j + 1  
                    end = j
                    x.append(to_vec(start, end, T))
                    break
                else:
                    i = j + 1
                    if i == T:
                        end = i
                        x.append(to_vec(start, end, T))
                        break
        else:
            i += 1
    return x


def event_wise_metric(event_p, event_gt):
    TP = 0
    FP = 0
    FN = 0

    if event_p is not None:
        num_event = len(event_p)
        for i in range(num_event):
            x1 = event_p[i]
            if event_gt is not None:
                nn = len(event_gt)
                flag = True
                for j in range(nn):
                    x2 = event_gt[j]
                    if np.sum(x1 * x2) >= 0.5 * np.sum(x1 + x2 - x1 * x2):  
                        TP += 1
                        flag = False
                        break
                if flag:
                    FP += 1
            else:
                FP += 1

    if event_gt is not None:
        num_event = len(event_gt)
        for i in range(num_event):
            x1 = event_gt[i]
            if event_p is not None:
                nn = len(event_p)
                flag = True
                for j in range(nn):
                    x2 = event_p[j]
                    if np.sum(x1 * x2) >= 0.5 * np.sum(x1 + x2 - x1 * x2):  
                        flag = False
                        break
                if flag:
                    FN += 1
            else:
                FN += 1
    return TP, FP, FN



def segment_map(prob_list,gt_list):
    
    

    num_cls=prob_list[0].shape[0]
    assert num_cls==35 

    map=[] 
    for i in range(num_cls):
        prec=[] 
        rec=[] 
        TP=0
        FP=0
        prob=np.concatenate([prob_list[ii][i] for ii in range(len(prob_list))])
        gt=np.concatenate([gt_list[ii][i] for ii in range(len(gt_list))])
        gt_num=np.sum(gt) 
        conf_index=np.argsort(prob) 
        conf_index=conf_index[::-1] 
        for index in conf_index:
            
            if gt[index]==1: 
                TP+=1
            else:
                FP+=1
            prec.append(TP/(TP+FP))
            rec.append(TP/gt_num)
    
        prec=np.array(prec)
        rec=np.array(rec)
        ap=interpolated_prec_rec(prec,rec)
        map.append(ap)
    return sum(map)/len(map)


def interpolated_prec_rec(prec, rec):
    """Interpolated AP - VOCdevkit from VOC 2011.
    """
    mprec = np.hstack([[0], prec, [0]])
    mrec = np.hstack([[0], rec, [1]])
    for i in range(len(mprec) - 1)[::-1]:
        mprec[i] = max(mprec[i], mprec[i + 1])
    idx = np.where(mrec[1::] != mrec[0:-1])[0] + 1
    ap = np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx])
    return ap


# ---- src/tools/evaluation.py, lines 35-225 (see the header for what is replaced) --------------
def evaluation(samples, a_weak_rows, v_weak_rows, a_rows, v_rows):
    categories = CATEGORIES

    n_categories = len(categories)

    id_to_idx = {id: index for index, id in enumerate(categories)}
    F_seg_a = []
    F_seg_v = []
    F_seg = []
    F_seg_av = []
    F_event_a = []
    F_event_v = []
    F_event = []
    F_event_av = []

    pa_list=[]
    pv_list=[]
    pav_list=[]
    gta_list=[]
    gtv_list=[]
    gtav_list=[]

    for batch_idx, sample in enumerate(samples):
        audio = sample['audio']
        a_prob, v_prob, frame_prob = sample['a_prob'], sample['v_prob'], sample['frame_prob']

        # args.real_av_labels, args.num_stages == 1
        o_a = (a_prob >= 0.5).astype(np.int_)
        o_v = (v_prob >= 0.5).astype(np.int_)

        Pa = frame_prob[0, :, 0, :]
        Pv = frame_prob[0, :, 1, :]

        pa_list.append(np.transpose(Pa))
        pv_list.append(np.transpose(Pv))
        pav_list.append(np.transpose(Pa)*np.transpose(Pv))

        repeat_len = audio.shape[1]  # audio.size()[1]

        Pa = (Pa >= 0.5).astype(np.int_) * np.repeat(o_a, repeats=repeat_len, axis=0)
        Pv = (Pv >= 0.5).astype(np.int_) * np.repeat(o_v, repeats=repeat_len, axis=0)

        # ************************** extract audio GT labels **************************
        GT_a = np.zeros((n_categories, repeat_len))
        GT_v = np.zeros((n_categories, repeat_len))

        df_vid_a = [row for row in a_rows if row[0] == a_weak_rows[batch_idx][0]]
        num = len(df_vid_a)
        if num > 0:
            for i in range(num):
                x1 = int(df_vid_a[i][1])
                x2 = int(df_vid_a[i][2])
                event = df_vid_a[i][3]
                idx = id_to_idx[event]
                GT_a[idx, x1:x2+1] = 1

        # ************************** extract visual GT labels **************************
        df_vid_v = [row for row in v_rows if row[0] == v_weak_rows[batch_idx][0]]
        num = len(df_vid_v)
        if num > 0:
            for i in range(num):
                x1 = int(df_vid_v[i][1])
                x2 = int(df_vid_v[i][2])
                event = df_vid_v[i][3]
                idx = id_to_idx[event]
                GT_v[idx, x1:x2+1] = 1

        # ************************** obtain audiovisual GT labels **************************
        GT_av = GT_a * GT_v


        gta_list.append(GT_a) # num_cls, t
        gtv_list.append(GT_v)
        gtav_list.append(GT_av)

        # obtain prediction matrices
        SO_a = np.transpose(Pa)
        SO_v = np.transpose(Pv)
        SO_av = SO_a * SO_v

        # segment-level F1 scores
        f_a, f_v, f, f_av = segment_level(SO_a, SO_v, SO_av, GT_a, GT_v, GT_av)
        F_seg_a.append(f_a)
        F_seg_v.append(f_v)
        F_seg.append(f)
        F_seg_av.append(f_av)

        # event-level F1 scores
        f_a, f_v, f, f_av = event_level(SO_a, SO_v, SO_av, GT_a, GT_v, GT_av, repeat_len, 35)
        F_event_a.append(f_a)
        F_event_v.append(f_v)
        F_event.append(f)
        F_event_av.append(f_av)

    # "Snippet-level MAP"
    map_a=segment_map(pa_list,gta_list)
    map_v=segment_map(pv_list,gtv_list)
    map_av=segment_map(pav_list,gtav_list)
    map_avg = (map_a+map_v+map_av)/3

    # "Event-level F1"
    avg_type_event = (100 * np.mean(np.array(F_event_av)) + 100 * np.mean(np.array(F_event_a)) + 100 * np.mean(
        np.array(F_event_v))) / 3.

    return {
        # printed by the official (format {:.2f})
        "map_a": map_a*100, "map_v": map_v*100, "map_av": map_av*100, "map_avg": map_avg*100,
        "event_a": 100 * np.mean(np.array(F_event_a)), "event_v": 100 * np.mean(np.array(F_event_v)),
        "event_av": 100 * np.mean(np.array(F_event_av)), "event_type": avg_type_event,
        # the return value: the model-selection score
        "selection": (map_avg*100 + avg_type_event)/2,
        # computed per video by the official, not printed
        "F_seg_a": F_seg_a, "F_seg_v": F_seg_v, "F_seg": F_seg, "F_seg_av": F_seg_av,
        "F_event_a": F_event_a, "F_event_v": F_event_v, "F_event": F_event, "F_event_av": F_event_av,
        "gta_list": gta_list, "gtv_list": gtv_list,
    }
