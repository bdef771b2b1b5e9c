package dev.pals.stub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pals.LockKey;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import org.junit.jupiter.api.Test;

/** The stub answers as PostgreSQL does what it emulates, and refuses loudly what it does not. */
class StubServerTest {

    private static final LockKey KEY = LockKey.of(42);

    private final StubServer server = new StubServer();

    @Test
    void anUnknownStatementFailsNamingIt() throws SQLException {
        try (Connection connection = server.dataSource().getConnection()) {
            assertThatThrownBy(() -> connection.prepareStatement("SELECT pg_sleep(1)").executeQuery())
                    .isInstanceOf(SQLException.class).hasMessageContaining("SELECT pg_sleep(1)");
        }
        assertThat(server.refusals()).as("noted even where a caller swallows it").hasSize(1);
    }

    @Test
    void aJdbcMethodTheStubDoesNotEmulateFailsNamingIt() throws SQLException {
        try (Connection connection = server.dataSource().getConnection()) {
            assertThatThrownBy(() -> connection.setSavepoint()).isInstanceOf(SQLFeatureNotSupportedException.class)
                    .hasMessageContaining("Connection.setSavepoint");
        }
    }

    @Test
    void sessionLocksAreReEntrantAndSharedOnlyWithShared() throws SQLException {
        try (Connection one = server.dataSource().getConnection();
                Connection other = server.dataSource().getConnection()) {
            assertThat(call(one, "pg_try_advisory_lock")).isTrue();
            assertThat(call(one, "pg_try_advisory_lock")).as("re-entrant").isTrue();
            assertThat(call(other, "pg_try_advisory_lock_shared")).isFalse();
            assertThat(call(one, "pg_advisory_unlock")).isTrue();
            assertThat(call(other, "pg_try_advisory_lock_shared")).as("one hold left").isFalse();
            assertThat(call(one, "pg_advisory_unlock")).isTrue();
            assertThat(call(one, "pg_advisory_unlock")).as("nothing left to unlock").isFalse();
            assertThat(call(other, "pg_try_advisory_lock_shared")).isTrue();
            assertThat(call(one, "pg_try_advisory_lock_shared")).isTrue();
            assertThat(call(one, "pg_try_advisory_lock")).as("shared by another session").isFalse();
        }
        assertThat(server.heldKeys()).as("closing a connection ends its session and frees its locks").isEmpty();
    }

    @Test
    void aGateFailingAStatementWithAConnectionFailureEndsItsSession() throws SQLException {
        try (Connection connection = server.dataSource().getConnection()) {
            assertThat(call(connection, "pg_try_advisory_lock")).isTrue();
            server.failNext(Gate.Kind.PING, StubServer.CONNECTION_FAILURE);

            assertThatThrownBy(() -> connection.prepareStatement("SELECT 1").executeQuery())
                    .isInstanceOf(SQLException.class).extracting("SQLState").isEqualTo("08006");
            assertThat(connection.isClosed()).isTrue();
            assertThat(server.holders(KEY)).isEmpty();
        }
    }

    private static boolean call(Connection connection, String function) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement("SELECT " + function + "(?)")) {
            statement.setLong(1, KEY.value());
            try (ResultSet rows = statement.executeQuery()) {
                rows.next();
                return rows.getBoolean(1);
            }
        }
    }
}
