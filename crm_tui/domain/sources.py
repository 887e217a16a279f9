"""The sources a change can come from, as the association and property history show them."""

USER = "User"
API = "API"
IMPORT = "Import"
JOB = "Job"
OBJECT_MERGE = "Object merge"
OBJECT_DELETION = "Object deletion"
OBJECT_RESTORE = "Object restore"
AUTO_DOMAIN = "Automatic association by domain"
MIGRATION = "Migration"
SYNC = "Sync"  # `crm-tui vdir sync`: the actor names the folder ("vdir:/path")
UNKNOWN = "Unknown"

ALL = (USER, API, IMPORT, JOB, OBJECT_MERGE, OBJECT_DELETION, OBJECT_RESTORE, AUTO_DOMAIN, MIGRATION, UNKNOWN, SYNC)
