"""Training a submission: recipe, tensor-batch augmentation, the loop and its history."""
