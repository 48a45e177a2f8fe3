from agentcore_emulator.cli import main

raise SystemExit(main())
