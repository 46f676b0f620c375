import os
import sys

# make `import reference` work whatever pytest import mode is configured
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
