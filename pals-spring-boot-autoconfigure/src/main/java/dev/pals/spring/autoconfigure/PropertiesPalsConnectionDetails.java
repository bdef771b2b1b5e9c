package dev.pals.spring.autoconfigure;

import org.jspecify.annotations.Nullable;
import org.springframework.boot.jdbc.autoconfigure.DataSourceProperties;
import org.springframework.boot.jdbc.autoconfigure.JdbcConnectionDetails;
import org.springframework.util.StringUtils;

/**
 * The lock database from {@code pals.datasource.*}, each field falling back to the service's:
 * {@code spring.datasource.*}, then its service connection. Never to the embedded database Boot
 * would otherwise fall back to, which cannot take advisory locks.
 */
final class PropertiesPalsConnectionDetails implements PalsConnectionDetails {

    private final PalsProperties.Datasource settings;
    private final @Nullable DataSourceProperties service;
    private final @Nullable JdbcConnectionDetails serviceConnection;

    PropertiesPalsConnectionDetails(PalsProperties.Datasource settings, @Nullable DataSourceProperties service,
            @Nullable JdbcConnectionDetails serviceConnection) {
        this.settings = settings;
        this.service = service;
        this.serviceConnection = serviceConnection;
    }

    @Override
    public String getJdbcUrl() {
        String url = firstText(settings.getUrl(), service == null ? null : service.getUrl(),
                serviceConnection == null ? null : serviceConnection.getJdbcUrl());
        if (url == null) {
            // only where AOT processing generated the registry, which it does without knowing the URL
            throw new IllegalStateException("PALs takes its locks in a PostgreSQL database and none is named: "
                    + "set spring.datasource.url or pals.datasource.url to a jdbc:postgresql://host:5432/database "
                    + "URL, or give the service a service connection. This service was AOT-processed, which makes "
                    + "the lock registry without knowing the URL; without AOT it would have no registry instead.");
        }
        return url;
    }

    /** Where the URL comes from, for an error that names what to change. */
    String urlOrigin() {
        if (StringUtils.hasText(settings.getUrl())) {
            return "pals.datasource.url";
        }
        if (service != null && StringUtils.hasText(service.getUrl())) {
            return "spring.datasource.url";
        }
        return "the service's connection details ("
                + (serviceConnection == null ? "none" : serviceConnection.getClass().getSimpleName()) + ")";
    }

    @Override
    public @Nullable String getUsername() {
        return firstText(settings.getUsername(), service == null ? null : service.getUsername(),
                serviceConnection == null ? null : serviceConnection.getUsername());
    }

    @Override
    public @Nullable String getPassword() {
        return firstText(settings.getPassword(), service == null ? null : service.getPassword(),
                serviceConnection == null ? null : serviceConnection.getPassword());
    }

    private static @Nullable String firstText(@Nullable String... candidates) {
        for (String candidate : candidates) {
            if (StringUtils.hasText(candidate)) {
                return candidate;
            }
        }
        return null;
    }
}
