package dev.pals.sample;

import dev.pals.spring.leader.Leadership;
import dev.pals.spring.leader.LeadershipGrantedEvent;
import dev.pals.spring.leader.LeadershipRevokedEvent;
import java.util.Map;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.springframework.context.event.EventListener;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/** Which instance leads (pals.leader.name in application.yml), in the log and at GET /leader. */
@RestController
class LeaderController {

    private static final Log LOG = LogFactory.getLog(LeaderController.class);

    private final Leadership leadership;
    private final Instance instance;

    LeaderController(Leadership leadership, Instance instance) {
        this.leadership = leadership;
        this.instance = instance;
    }

    @GetMapping("/leader")
    Map<String, Object> leader() {
        return Map.of("instance", instance.name(), "leader", leadership.isLeader());
    }

    @EventListener
    void granted(LeadershipGrantedEvent event) {
        LOG.info("instance " + instance.name() + " now leads (" + event.getLeadership().getName() + ")");
    }

    @EventListener
    void revoked(LeadershipRevokedEvent event) {
        LOG.info("instance " + instance.name() + " no longer leads"
                + (event.getLost() == null ? "" : ": " + event.getLost().getMessage()));
    }
}
