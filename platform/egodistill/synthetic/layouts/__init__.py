"""Writers of the two real dataset layouts (see ``docs/data-formats.md`` sections 1 and 2)."""
