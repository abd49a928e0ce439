"""Reference: VALOR's label rules (segment pseudo labels from CLIP and CLAP), transcribed for the PLG tests.

Repository: https://github.com/Franklin905/VALOR
Commit:     2677da9ff4d40a7e035e7843ace1e5e91d7275bc (both files unchanged since 60f3227, "add
            preprocessing code", 2023-09-11)
Files:      utils/clip_preprocess.py and utils/clap_preprocess.py: each one's
            get_segment_pseudo_labels, verbatim (renamed clip_/clap_ here, as both are named the
            same), and the lines of their __main__ that set the captions and thresholds, verbatim
            (indented one level less, as module constants, renamed likewise); the frame choice of
            clip_preprocess.py's LLP_dataset.__getitem__ (line 64), verbatim inside a function
            of its own.
"""
import numpy as np
import torch


# utils/clip_preprocess.py:106-125
def clip_get_segment_pseudo_labels(logits_image_text, thresholds, labels, device):
    """
    Construct segment-level visual pseudo labels (multi-label one-hot pseudo labels)
    based on the pre-defined thresholds, logits, and the video-level labels

    Output
        Pv (tensor): size = (10, 25), segment-level visual pseudo labels
    """

    with torch.no_grad():
        occurred_event_idx = labels.nonzero().squeeze(dim=-1)

        occurred_events_logits = logits_image_text[:, occurred_event_idx]
        class_thresholds = thresholds[:, occurred_event_idx]
        segment_preds = torch.where(occurred_events_logits > class_thresholds, 1, 0).long()     # (10, k) in one-hot labels

        Pv = torch.zeros(10, 25).long().to(device)
        Pv[:, occurred_event_idx.long()] = segment_preds

    return Pv


# utils/clap_preprocess.py:121-140
def clap_get_segment_pseudo_labels(logits_audio_text, thresholds, labels, device):
    """
    Construct segment-level audio pseudo labels (multi-label one-hot pseudo labels)
    based on the pre-defined thresholds, logits, and the video-level labels

    Output
        Pa (tensor): size = (10, 25), segment-level audio pseudo labels
    """

    with torch.no_grad():
        occurred_event_idx = labels.nonzero().squeeze(dim=-1)
        
        occurred_events_logits = logits_audio_text[:, occurred_event_idx]
        class_thresholds = thresholds[:, occurred_event_idx]
        segment_preds = torch.where(occurred_events_logits > class_thresholds, 1, 0).long()

        Pa = torch.zeros(10, 25).long().to(device)
        Pa[:, occurred_event_idx.long()] = segment_preds

    return Pa


# utils/clip_preprocess.py:230-234
clip_event_captions = ['A photo of people talking.', 'A photo of a car.', 'A photo of people cheering.', 'A photo of a dog.', 'A photo of a cat.', 'A photo of frying food.',
                'A photo of people playing basketball.', 'A photo of a fire alarm.', 'A photo of a chainsaw.', 'A photo of a cello.', 'A photo of a banjo.',
                'A photo of people singing.', 'A photo of a chicken or a rooster.', 'A photo of a violin.', 'A photo of a vaccum cleaner.',
                'A photo of a laughing baby.', 'A photo of an accordion.', 'A photo of a lawnmower.', 'A photo of a motorcycle.', 'A photo of a helicopter.',
                'A photo of a acoustic guiter.', 'A photo of a ringing telephone.', 'A photo of a crying baby.', 'A photo of a blender.', 'A photo of hands clapping.']

# utils/clip_preprocess.py:236-238
clip_thresholds = np.array([20, 15, 18, 14, 15, 18, 18, 15, 15, 15,
                        15, 18, 15, 15, 15, 15, 15, 15, 15, 16,
                        14, 15, 15, 15, 18])

# utils/clap_preprocess.py:254-260
clap_event_captions = ['Speech', 'Car', 'Cheering', 'Dog', 'Cat', 'Frying (food)',
                'Basketball bounce', 'Fire alarm', 'Chainsaw', 'Cello', 'Banjo',
                'Singing', 'Chicken, rooster', 'Violin fiddle', 'Vacuum cleaner',
                'Baby laughter', 'Accordion', 'Lawn mower', 'Motorcycle', 'Helicopter',
                'Acoustic guitar', 'Telephone bell ringing', 'Baby cry, infant cry', 'Blender',
                'Clapping']
clap_event_captions = ["This is a sound of " + t.lower() for t in clap_event_captions]

# utils/clap_preprocess.py:262-264
clap_thresholds = np.array([0, 0, 1, 4, 6, -2, 4, 4, 2, 2,
                        2, 1, 2, 3, 0, 2, 2, 2, 0, 2,
                        -1, 2, 3, 3, 0])


def clip_frame_indices(image_list):
    # utils/clip_preprocess.py:64
    samples = np.round(np.linspace(0, len(image_list) - 1, 10))     # get 10 indices equally spaced
    return samples
