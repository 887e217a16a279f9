"""Values and rules that need no database: property types (one class per type: parse, store,
display, export, filter operators), value parsers, text cleaning, errors and change sources."""
