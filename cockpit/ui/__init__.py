"""The Textual cockpit: the on-call's screen. The only package that imports textual."""
