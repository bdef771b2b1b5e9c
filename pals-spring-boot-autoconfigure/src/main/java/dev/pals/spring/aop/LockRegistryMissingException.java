package dev.pals.spring.aop;

/**
 * A bean has {@code @AdvisoryLocked} methods and there is no {@link dev.pals.LockRegistry} to lock
 * them with; {@link LockRegistryMissingFailureAnalyzer} says what to set.
 */
final class LockRegistryMissingException extends IllegalStateException {

    private static final long serialVersionUID = 1L;

    LockRegistryMissingException(Class<?> lockedClass) {
        super(lockedClass.getName() + " has @AdvisoryLocked methods, but there is no LockRegistry to lock them with: "
                + "PALs found no PostgreSQL database to take locks on (none of pals.datasource.url, "
                + "spring.datasource.url, a PalsConnectionDetails bean, a @LockDataSource DataSource or a service "
                + "connection), HikariCP (which holds PALs' lock connections) or spring-boot-jdbc is not on the class "
                + "path, or PALs is disabled with pals.enabled=false.");
    }
}
