"""Feature extraction from raw media: decode with PyAV, acoustic descriptors with openSMILE, face
geometry with MediaPipe, written as an hscl dataset (`hscl extract`, `hscl predict --media`).

The submodules import their heavy packages (av, opensmile, mediapipe) inside functions, so importing
`hscl.extract.settings` or `hscl.extract.inputs` costs nothing; install them with `pip install 'hscl[extract]'`.
"""
