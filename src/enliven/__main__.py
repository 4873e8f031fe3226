from enliven.cli import main

raise SystemExit(main())
