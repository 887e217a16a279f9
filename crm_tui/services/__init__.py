"""The operations: the Crm object (one transaction and one operation per change), records,
associations, activities, history, merge, undo, rules, pipelines, owners, search, paging, views,
bulk changes, integrity checks, schema files, seeding and maintenance."""
