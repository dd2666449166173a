"""FlashFusion: the automation hub for print-on-demand and digital-product creators."""

__version__ = "0.1.0"
