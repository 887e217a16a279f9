"""The command line: the `crm-tui` entry point, typed arguments, one function per subcommand.
Changes made here carry the source API. Starts the app shell."""
