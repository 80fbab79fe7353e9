"""Pure text computation: segmentation, models, rules. No I/O beyond loading model files."""
