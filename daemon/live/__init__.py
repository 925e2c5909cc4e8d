"""The live partner: ports, the engine and its policies, scheduler, clock, recorder."""
