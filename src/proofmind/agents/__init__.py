"""Guarded AI agents: a Safe module (AgentGuard) that enforces a DAO's policy on-chain, an agent
runtime that decides from alerts and acts only through it, and a decision log."""
