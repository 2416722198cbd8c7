"""EfficientDet-D0 detectors on multispectral images, and explanations of their detections."""
