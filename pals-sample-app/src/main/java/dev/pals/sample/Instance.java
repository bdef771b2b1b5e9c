package dev.pals.sample;

import java.util.UUID;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;

/** Which instance of the service this is, as its rows and logs name it. */
@Component
public class Instance {

    private final String name;

    Instance(@Value("${sample.instance:}") String name) {
        this.name = name.isBlank() ? UUID.randomUUID().toString().substring(0, 4) : name;
    }

    public String name() {
        return name;
    }
}
