package dev.pals.spring.aop;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pals.LockRegistry;
import dev.pals.spring.AdvisoryLocked;
import dev.pals.spring.autoconfigure.PalsAutoConfiguration;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.NoSuchBeanDefinitionException;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.aop.AopAutoConfiguration;
import org.springframework.boot.diagnostics.FailureAnalysis;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/** A start-up without a lock database: explained when a locked method needs one, left to Boot otherwise. */
class LockRegistryMissingFailureAnalyzerTest {

    private final ApplicationContextRunner withoutDatabase = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(AopAutoConfiguration.class, PalsAutoConfiguration.class,
                    AdvisoryLockedAutoConfiguration.class));

    @Test
    void lockedMethodWithoutAnyDatabaseFailsStartUpWithAnAnalysisThatNamesTheClassAndWhatToSet() {
        withoutDatabase.withBean(LockedJob.class).run(context -> {
            assertThat(context).hasFailed();
            FailureAnalysis analysis = new LockRegistryMissingFailureAnalyzer().analyze(context.getStartupFailure());
            assertThat(analysis).isNotNull();
            assertThat(analysis.getDescription()).contains(LockedJob.class.getName())
                    .contains("no LockRegistry").contains("pals.datasource.url");
            assertThat(analysis.getAction()).contains("pals.datasource.url").contains("jdbc:postgresql://");
        });
    }

    @Test
    void missingRegistryAtAnInjectionPointIsLeftToSpringBootsOwnAnalysis() {
        withoutDatabase.withBean(NeedsRegistry.class).run(context -> {
            assertThat(context).hasFailed();
            assertThat(new LockRegistryMissingFailureAnalyzer().analyze(context.getStartupFailure())).isNull();
            assertThat(context.getStartupFailure()).hasRootCauseInstanceOf(NoSuchBeanDefinitionException.class);
        });
    }

    static class LockedJob {
        @AdvisoryLocked("job")
        public void run() {
        }
    }

    static class NeedsRegistry {
        NeedsRegistry(LockRegistry registry) {
        }
    }
}
