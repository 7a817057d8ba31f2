"""The registry (实有房屋/人口/单位/部件): houses, households, residents, enterprises, shops,
urban components, underground spaces and land parcels, each located in its micro-grid.
"""
