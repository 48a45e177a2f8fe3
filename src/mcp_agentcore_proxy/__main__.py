from mcp_agentcore_proxy.cli import main

raise SystemExit(main())
