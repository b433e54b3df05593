"""``python -m modelplane.local``: run the local daemon in the foreground (``modelplane up`` backgrounds it)."""

from modelplane.local.daemon import main

main()
