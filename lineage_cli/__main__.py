from lineage_cli.main import main

raise SystemExit(main())
