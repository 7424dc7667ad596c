import sys

from proofmind.cli import main

sys.exit(main())
