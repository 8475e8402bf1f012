"""Large files through DVC: the cache, pointers and transfers (below running and sharing)."""
