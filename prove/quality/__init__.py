"""`prove quality`: how close generated images are to real images of the weather they aim at
(KID and FID over image features), logged to the store beside the trainings, so the
leaderboard can ask whether better image quality means better segmentation."""
