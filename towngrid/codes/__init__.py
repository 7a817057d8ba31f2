"""一码通用 / 一户一码: a signed code for every registry object, the scan page, three-colour
(三色) management rules and patrols by colour.
"""
