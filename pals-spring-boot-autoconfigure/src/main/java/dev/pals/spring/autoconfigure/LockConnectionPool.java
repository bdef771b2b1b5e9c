package dev.pals.spring.autoconfigure;

import com.zaxxer.hikari.HikariDataSource;
import javax.sql.DataSource;

/**
 * The lock pool: the HikariCP pool the {@link dev.pals.LockRegistry} keeps its connections in.
 * Deliberately not a {@link DataSource} bean, so that Spring Boot still creates the service's own
 * DataSource, JdbcTemplate and transaction manager as if PALs were not there. Closed after the
 * registry on shutdown.
 */
public final class LockConnectionPool implements AutoCloseable {

    private final HikariDataSource dataSource;

    LockConnectionPool(HikariDataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** The pool's connections, for the registry. */
    public DataSource getDataSource() {
        return dataSource;
    }

    /** The JDBC URL the pool connects to (it may carry credentials: do not log it). */
    public String getJdbcUrl() {
        return dataSource.getJdbcUrl();
    }

    @Override
    public String toString() {
        return "LockConnectionPool[" + dataSource.getPoolName() + ", " + getApplicationName() + "]";
    }

    /** The application name the pool's connections show in {@code pg_stat_activity}. */
    public String getApplicationName() {
        return dataSource.getDataSourceProperties().getProperty("ApplicationName");
    }

    @Override
    public void close() {
        dataSource.close();
    }
}
