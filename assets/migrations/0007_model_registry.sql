-- The model registry service's schema, as the spec writes it.

CREATE SCHEMA IF NOT EXISTS model_registry;

CREATE TABLE IF NOT EXISTS model_registry.models (
    id SERIAL PRIMARY KEY,
    name VARCHAR(100) UNIQUE NOT NULL,
    display_name VARCHAR(200) NOT NULL,
    provider VARCHAR(50) NOT NULL,
    model_type VARCHAR(50) NOT NULL,
    version VARCHAR(50),
    description TEXT,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE IF NOT EXISTS model_registry.model_endpoints (
    id SERIAL PRIMARY KEY,
    model_id INTEGER REFERENCES model_registry.models(id) ON DELETE CASCADE,
    endpoint_type VARCHAR(50) NOT NULL,
    endpoint_url VARCHAR(255),
    auth_type VARCHAR(50),
    headers JSONB,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE IF NOT EXISTS model_registry.model_capabilities (
    id SERIAL PRIMARY KEY,
    model_id INTEGER REFERENCES model_registry.models(id) ON DELETE CASCADE,
    capability VARCHAR(50) NOT NULL,
    capability_score FLOAT NOT NULL,
    UNIQUE (model_id, capability)
);
