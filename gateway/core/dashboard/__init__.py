"""The admin dashboard (pure): server-rendered HTML with inline SVG charts."""
