"""One module per on-disk dataset format; each turns its files into an `MSADataset`."""
