"""Where data lives: the database file (open, pragmas, schema versions, migrations, backups), the
Peewee models, the object engine that builds a model per object, the SQLite dialect, the config
file, paths and safe file writing."""
