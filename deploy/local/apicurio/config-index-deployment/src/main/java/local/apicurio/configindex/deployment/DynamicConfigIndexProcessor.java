package local.apicurio.configindex.deployment;

import java.util.ArrayList;
import java.util.List;

import org.jboss.jandex.AnnotationInstance;
import org.jboss.jandex.AnnotationValue;
import org.jboss.jandex.DotName;
import org.jboss.jandex.Type;

import apicurio.common.app.components.config.index.DynamicPropertiesInfoRecorder;
import io.apicurio.common.apps.config.DynamicConfigPropertyDef;
import io.apicurio.common.apps.config.DynamicConfigPropertyList;
import io.quarkus.arc.deployment.BeanDiscoveryFinishedBuildItem;
import io.quarkus.arc.deployment.SyntheticBeanBuildItem;
import io.quarkus.arc.processor.InjectionPointInfo;
import io.quarkus.deployment.annotations.BuildProducer;
import io.quarkus.deployment.annotations.BuildStep;
import io.quarkus.deployment.annotations.ExecutionTime;
import io.quarkus.deployment.annotations.Record;

/**
 * Collects every field injection point qualified with @ConfigProperty that also carries
 * Apicurio's @Dynamic marker, and publishes the list as a DynamicConfigPropertyList bean.
 */
public class DynamicConfigIndexProcessor {

    private static final DotName CONFIG_PROPERTY =
            DotName.createSimple("org.eclipse.microprofile.config.inject.ConfigProperty");
    private static final DotName DYNAMIC = DotName.createSimple("io.apicurio.common.apps.config.Dynamic");

    @BuildStep
    @Record(ExecutionTime.RUNTIME_INIT)
    void registerDynamicPropertyList(DynamicPropertiesInfoRecorder recorder,
            BeanDiscoveryFinishedBuildItem discovery, BuildProducer<SyntheticBeanBuildItem> beans) {
        List<DynamicConfigPropertyDef> defs = new ArrayList<>();
        for (InjectionPointInfo point : discovery.getInjectionPoints()) {
            AnnotationInstance config = point.getRequiredQualifier(CONFIG_PROPERTY);
            if (config == null || !point.isField()) {
                continue;
            }
            AnnotationInstance dynamic = point.getTarget().asField().annotation(DYNAMIC);
            if (dynamic != null) {
                defs.add(definition(point, config, dynamic));
            }
        }
        beans.produce(SyntheticBeanBuildItem.configure(DynamicConfigPropertyList.class)
                .runtimeValue(recorder.initializePropertiesInfo(defs))
                .unremovable()
                .setRuntimeInit()
                .done());
    }

    private static DynamicConfigPropertyDef definition(InjectionPointInfo point, AnnotationInstance config,
            AnnotationInstance dynamic) {
        String name = config.value("name").asString();
        AnnotationValue defaultValue = config.value("defaultValue");
        if (defaultValue == null) {
            throw new IllegalStateException("@Dynamic config property " + name + " has no default value");
        }
        Type declared = point.getRequiredType();
        if (declared.kind() != Type.Kind.PARAMETERIZED_TYPE) {
            throw new IllegalStateException("@Dynamic config property " + name + " must be a Supplier<T> field");
        }
        Class<?> valueType;
        try {
            valueType = Class.forName(declared.asParameterizedType().arguments().get(0).name().toString());
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("@Dynamic config property " + name + ": unknown value type", e);
        }
        DynamicConfigPropertyDef def = new DynamicConfigPropertyDef(name, valueType, defaultValue.asString());
        AnnotationValue label = dynamic.value("label");
        if (label != null) {
            def.setLabel(label.asString());
        }
        AnnotationValue description = dynamic.value("description");
        if (description != null) {
            def.setDescription(description.asString());
        }
        AnnotationValue requires = dynamic.value("requires");
        if (requires != null) {
            def.setRequires(requires.asStringArray());
        }
        return def;
    }
}
