"""Procedural product templates for listing images (mockups).

`raster` holds the vectorised drawing primitives, `scene` the template scene builder, `compose`
the compositor (paint a blank, print artwork into it); `apparel`, `drinkware`, `wall` and `flat`
draw the products. The public API lives in
`flashfusion.studio.mockup`; the registry of templates in `flashfusion.studio.mockup_templates`.
"""
