"""Generic pieces every layer may use: errors, did-you-mean, mappings, paths."""
