"""Search spaces shipped with hscl (`hscl tune --space NAME`)."""
