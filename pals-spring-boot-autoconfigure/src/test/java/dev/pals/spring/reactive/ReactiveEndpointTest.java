package dev.pals.spring.reactive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.pals.AcquireFailureException;
import dev.pals.LockKey;
import dev.pals.LockRegistry;
import dev.pals.spring.AdvisoryLocked;
import dev.pals.spring.StarterTestSupport;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.test.web.reactive.server.WebTestClient;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/** A WebFlux endpoint whose locked Mono excludes the other instance of the service for its whole life. */
class ReactiveEndpointTest extends StarterTestSupport {

    private static final Duration LONG = Duration.ofSeconds(30);

    /** The work of a request, finished when the test says. */
    public static class Gate {
        final Sinks.One<String> open = Sinks.one();

        public Sinks.One<String> open() {
            return open;
        }
    }

    public static class Invoices {
        @AdvisoryLocked(name = "invoicing", blocking = false)
        public Mono<String> run(Mono<String> work) {
            return work;
        }
    }

    @RestController
    static class InvoiceController {
        private final Invoices invoices;
        private final Gate gate;

        InvoiceController(Invoices invoices, Gate gate) {
            this.invoices = invoices;
            this.gate = gate;
        }

        @GetMapping("/invoices")
        Mono<String> invoices() {
            return invoices.run(gate.open().asMono());
        }

        @ExceptionHandler(AcquireFailureException.class)
        ResponseEntity<String> busy(AcquireFailureException e) {
            return ResponseEntity.status(HttpStatus.CONFLICT).body("busy");
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class Service {
        @Bean
        Invoices invoices() {
            return new Invoices();
        }

        @Bean
        Gate gate() {
            return new Gate();
        }

        @Bean
        InvoiceController invoiceController(Invoices invoices, Gate gate) {
            return new InvoiceController(invoices, gate);
        }
    }

    private static WebTestClient client(AssertableApplicationContext context) {
        return WebTestClient.bindToController(context.getBean(InvoiceController.class)).configureClient()
                .responseTimeout(LONG).build();
    }

    private static boolean held(AssertableApplicationContext context) throws Exception {
        LockKey key = context.getBean(LockRegistry.class).lock("invoicing").key();
        return DB.advisoryLocks(key.classId(), key.objId(), key.objSubId(), true) == 1;
    }

    @Test
    void requestHoldingTheLockMakesTheOtherInstanceAnswerBusyUntilItsMonoCompletes() {
        twoInstances(instance().withUserConfiguration(Service.class), (one, two) -> {
            CompletableFuture<String> first = CompletableFuture.supplyAsync(() -> client(one).get().uri("/invoices")
                    .exchange().expectStatus().isOk().expectBody(String.class).returnResult().getResponseBody());
            await().atMost(LONG).until(() -> held(one));
            two.getBean(Gate.class).open().tryEmitValue("two");

            client(two).get().uri("/invoices").exchange().expectStatus().isEqualTo(HttpStatus.CONFLICT);

            one.getBean(Gate.class).open().tryEmitValue("one");
            assertThat(first.get(30, TimeUnit.SECONDS)).isEqualTo("one");
            assertThat(held(one)).isFalse();
            client(two).get().uri("/invoices").exchange().expectStatus().isOk().expectBody(String.class)
                    .isEqualTo("two");
        });
    }
}
