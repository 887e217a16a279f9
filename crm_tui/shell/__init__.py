"""The Textual app shell: the App class, keymap, theming and browser mode (serve). With screens/
and widgets/, the only code that imports Textual."""
