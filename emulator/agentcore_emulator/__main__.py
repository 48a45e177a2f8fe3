from agentcore_emulator.command import main

raise SystemExit(main())
