from agentcore_emulator.console import main

raise SystemExit(main())
