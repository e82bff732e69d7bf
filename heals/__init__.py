"""HEALS: the event-sourced clinical backbone of a hospital ERP."""
