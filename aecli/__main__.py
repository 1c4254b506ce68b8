from aecli.cli import main

raise SystemExit(main())
