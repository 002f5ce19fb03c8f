"""The accsyn wire protocol: its names, and one module per API generation."""
