"""Imported first by the tools: run from a source checkout, they use the
checkout's mmb2inst (the code being edited), not the installed copy that
`mim` and `python tools/x.py` would otherwise import."""
import os
import os.path as osp
import sys

if osp.isfile(osp.join(os.getcwd(), 'mmb2inst', '__init__.py')):
    sys.path.insert(0, os.getcwd())
