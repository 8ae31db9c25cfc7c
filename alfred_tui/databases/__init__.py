"""Data-plane clients: PostgreSQL (asyncpg), Redis (redis.asyncio) and Qdrant.

Each module imports only its own client library, so a caller pays for what it
uses. Screens and widgets reach the databases through these modules only.
"""
