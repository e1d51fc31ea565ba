"""Figures. ``style`` holds the one house style every figure uses (readable in black and white)."""
