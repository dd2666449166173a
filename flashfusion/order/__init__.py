"""Orders imported from connected platforms (webhooks and a periodic sync), with their line
items matched to FlashFusion's products and channel listings by SKU."""
