"""weftlab: the Weft lab runner (tools/weft-lab) and the namespace helper tests share."""
