"""The tracking library: what training code imports (stdlib only at import time)."""
